// Filled in by the validation work.
