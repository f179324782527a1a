"""Evaluation: bits per note teacher-forced, the trigram baseline, and the quality measures of melodies."""
