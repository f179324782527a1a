"""Serving: the playground (generation with audio, pictures and files), seeds from every source, uploads in a sandbox, bounded storage, the HTTP guard, worker processes, sound and pictures."""
