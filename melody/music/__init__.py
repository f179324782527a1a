"""Music in and out: note names, keys, MIDI and ABC files, the melody voice, and the encoding (``Melody``, ``EncodingConfig``, tokens)."""
