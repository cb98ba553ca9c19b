"""Politics races: poll states in, one race EventState (the model's inputs) out."""
