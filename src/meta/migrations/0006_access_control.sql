ALTER TABLE `buckets` ADD `policy` text;--> statement-breakpoint
ALTER TABLE `buckets` ADD `public_access_block` text;--> statement-breakpoint
ALTER TABLE `buckets` ADD `ownership` text;--> statement-breakpoint
ALTER TABLE `namespaces` ADD `public_access_block` text;--> statement-breakpoint
ALTER TABLE `users` ADD `builtin_policy` text;--> statement-breakpoint
ALTER TABLE `users` ADD `policy` text;--> statement-breakpoint
-- Users that existed before access control keep what they had: everything in their namespace
-- but changing who else may access it (the built-in readwrite policy, docs/architecture.md §12).
UPDATE `users` SET `builtin_policy` = 'readwrite' WHERE `is_root` = 0;
