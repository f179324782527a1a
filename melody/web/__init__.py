"""Browser-side pieces of the playground page (no music logic here)."""
