"""Gold: marts from silver, loaded atomically into MariaDB, and the HTML report."""
