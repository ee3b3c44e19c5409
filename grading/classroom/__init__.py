"""The course and its records: settings, roster, each student's own data, releasing a module, the exchange and
what it takes in (intake), the lab, the gradebook, the grading state, its reasons and the words for statuses."""
