CREATE TABLE `buckets` (
	`name` text PRIMARY KEY NOT NULL,
	`namespace` text NOT NULL,
	`owner` text NOT NULL,
	`region` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`namespace`) REFERENCES `namespaces`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `buckets_namespace_idx` ON `buckets` (`namespace`,`name`);--> statement-breakpoint
CREATE TABLE `gc_queue` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`layout` text NOT NULL,
	`reason` text NOT NULL,
	`enqueued_at` integer NOT NULL,
	`retry_at` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `multipart_uploads` (
	`upload_id` text PRIMARY KEY NOT NULL,
	`bucket` text NOT NULL,
	`key` text NOT NULL,
	`initiated_at` integer NOT NULL,
	`initiator` text NOT NULL,
	`content_type` text,
	`headers` text NOT NULL,
	`user_meta` text NOT NULL,
	`checksum_algorithm` text,
	`checksum_type` text,
	`encryption` text,
	FOREIGN KEY (`bucket`) REFERENCES `buckets`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `multipart_uploads_listing_idx` ON `multipart_uploads` (`bucket`,`key`,`upload_id`);--> statement-breakpoint
CREATE TABLE `namespaces` (
	`name` text PRIMARY KEY NOT NULL,
	`encrypted` integer DEFAULT false NOT NULL,
	`wrapped_key` blob,
	`key_version` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `objects` (
	`bucket` text NOT NULL,
	`key` text NOT NULL,
	`version_id` text DEFAULT 'null' NOT NULL,
	`size` integer NOT NULL,
	`etag` text NOT NULL,
	`last_modified` integer NOT NULL,
	`content_type` text DEFAULT 'binary/octet-stream' NOT NULL,
	`headers` text NOT NULL,
	`user_meta` text NOT NULL,
	`checksum` text,
	`parts` text,
	`layout` text NOT NULL,
	`encryption` text,
	PRIMARY KEY(`bucket`, `key`),
	FOREIGN KEY (`bucket`) REFERENCES `buckets`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `parts` (
	`upload_id` text NOT NULL,
	`part_number` integer NOT NULL,
	`size` integer NOT NULL,
	`etag` text NOT NULL,
	`last_modified` integer NOT NULL,
	`checksum` text,
	`layout` text NOT NULL,
	PRIMARY KEY(`upload_id`, `part_number`)
);
--> statement-breakpoint
CREATE TABLE `users` (
	`access_key_id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`namespace` text NOT NULL,
	`secret_access_key` text NOT NULL,
	`is_root` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`namespace`) REFERENCES `namespaces`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `users_namespace_idx` ON `users` (`namespace`,`access_key_id`);