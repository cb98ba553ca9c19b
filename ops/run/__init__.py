"""`arbees run`: every part of the system as a supervised process, and the screen that shows it."""
