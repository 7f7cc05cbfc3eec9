ALTER TABLE `buckets` ADD `acl` text;--> statement-breakpoint
ALTER TABLE `multipart_uploads` ADD `acl` text;--> statement-breakpoint
ALTER TABLE `objects` ADD `acl` text;