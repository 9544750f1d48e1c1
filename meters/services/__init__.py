"""Business operations on meters shared by views, tasks, admin and commands."""
