"""Batch grading for instructors: discover submissions, grade them in parallel into a
resumable SQLite gradebook, then write exports, feedback pages and a report."""
