"""Shared test setup: every test, and every notebook kernel that nbval starts, runs in fast mode."""
import os

os.environ["COURSE_FAST"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
