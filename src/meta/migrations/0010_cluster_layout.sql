CREATE TABLE `cluster_layouts` (
	`version` integer PRIMARY KEY NOT NULL,
	`layout` text NOT NULL,
	`created_at` integer NOT NULL
);
