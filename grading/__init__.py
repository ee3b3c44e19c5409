"""Bulk autograding of CRM-lab modules on nbgrader: parallel, resumable, honest exports."""
