CREATE TABLE `kms_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`namespace` text NOT NULL,
	`region` text NOT NULL,
	`alias` text,
	`managed` integer DEFAULT false NOT NULL,
	`state` text NOT NULL,
	`wrapped_key` text,
	`created_at` integer NOT NULL,
	`deletion_date` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `kms_keys_alias_idx` ON `kms_keys` (`namespace`,`alias`);--> statement-breakpoint
CREATE INDEX `kms_keys_deletion_idx` ON `kms_keys` (`deletion_date`);