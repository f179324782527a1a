"""Training data: folders of songs read into melodies (cached), and the random crops the model trains on."""
