"""Health: whether applied objects are ready, by the kstatus rules."""
