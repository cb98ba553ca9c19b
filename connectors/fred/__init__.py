"""FRED (St. Louis Fed): series observations and the release calendar of the indicators markets settle on."""
