"""The course and its class: settings, roster, each student's data, releasing modules, the exchange, the lab, the gradebook, nbgrader's configuration."""
