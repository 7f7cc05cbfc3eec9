ALTER TABLE `buckets` ADD `id` text;--> statement-breakpoint
UPDATE `buckets` SET `id` = lower(hex(randomblob(16))) WHERE `id` IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `buckets_id_unique` ON `buckets` (`id`);
