"""autograder: release course notebooks, grade pairs' submissions in a sandbox, build the gradebook."""

__version__ = "0.1.0"
