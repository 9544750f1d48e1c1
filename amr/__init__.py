"""AMR scheduling and jobs: tasks become Celery work run through protocol execution environments."""
