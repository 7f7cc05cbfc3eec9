CREATE TABLE `inline_data` (
	`id` text PRIMARY KEY NOT NULL,
	`data` blob NOT NULL
);
