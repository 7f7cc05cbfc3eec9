ALTER TABLE `buckets` ADD `tags` text;--> statement-breakpoint
ALTER TABLE `buckets` ADD `lifecycle` text;--> statement-breakpoint
ALTER TABLE `multipart_uploads` ADD `tags` text;--> statement-breakpoint
ALTER TABLE `objects` ADD `tags` text;