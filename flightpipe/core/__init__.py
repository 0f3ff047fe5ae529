"""What every stage shares: settings, session, command line, run log, errors, storage."""
