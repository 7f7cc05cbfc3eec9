CREATE TABLE `heal_queue` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`layout` text NOT NULL,
	`reason` text NOT NULL,
	`enqueued_at` integer NOT NULL,
	`retry_at` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `heal_queue_retry_idx` ON `heal_queue` (`retry_at`);--> statement-breakpoint
CREATE TABLE `write_intents` (
	`id` text PRIMARY KEY NOT NULL,
	`started_at` integer NOT NULL
);
