"""What comes out of grading: the class's results read once, feedback pages, the class report, exports, the course grade, a student's own scores."""
