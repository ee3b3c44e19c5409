"""The grading run: workers, the sandbox, what is taken from a student, the checks verified outside the kernel, the state and its reasons."""
