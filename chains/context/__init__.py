"""Files and folders of the user's project as a run's context: collect, count, fit, map, format."""
