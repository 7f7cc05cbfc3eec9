CREATE TABLE `commit_tokens` (
	`id` text PRIMARY KEY NOT NULL
);
--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_objects` (
	`bucket` text NOT NULL,
	`key` text NOT NULL,
	`version_id` text DEFAULT 'null' NOT NULL,
	`ord` integer DEFAULT 0 NOT NULL,
	`latest` integer DEFAULT true NOT NULL,
	`delete_marker` integer DEFAULT false NOT NULL,
	`size` integer NOT NULL,
	`etag` text NOT NULL,
	`last_modified` integer NOT NULL,
	`content_type` text DEFAULT 'binary/octet-stream' NOT NULL,
	`headers` text NOT NULL,
	`user_meta` text NOT NULL,
	`checksum` text,
	`parts` text,
	`layout` text,
	`encryption` text,
	`lock` text,
	`upload_id` text,
	PRIMARY KEY(`bucket`, `key`, `ord`),
	FOREIGN KEY (`bucket`) REFERENCES `buckets`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
-- Every existing row becomes the current `null` version (ord 0, latest 1: the defaults).
INSERT INTO `__new_objects`("bucket", "key", "version_id", "size", "etag", "last_modified", "content_type", "headers", "user_meta", "checksum", "parts", "layout", "encryption") SELECT "bucket", "key", "version_id", "size", "etag", "last_modified", "content_type", "headers", "user_meta", "checksum", "parts", "layout", "encryption" FROM `objects`;--> statement-breakpoint
DROP TABLE `objects`;--> statement-breakpoint
ALTER TABLE `__new_objects` RENAME TO `objects`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `objects_version_idx` ON `objects` (`bucket`,`key`,`version_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `objects_latest_idx` ON `objects` (`bucket`,`key`) WHERE latest = 1;--> statement-breakpoint
CREATE INDEX `objects_current_idx` ON `objects` (`bucket`,`key`) WHERE latest = 1 and delete_marker = 0;--> statement-breakpoint
ALTER TABLE `buckets` ADD `versioning` text;--> statement-breakpoint
ALTER TABLE `buckets` ADD `object_lock` text;--> statement-breakpoint
ALTER TABLE `multipart_uploads` ADD `lock` text;