"""Offline sync: change log, pull cursors, push with three-way merge, conflicts, reference client."""
