"""The model: the LSTM, its checkpoint file, and what is fitted beside it (song memory, bar echo, form plan, length calibration)."""
