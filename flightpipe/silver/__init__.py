"""Silver: bronze conformed, checked and typed into the Hive warehouse."""
