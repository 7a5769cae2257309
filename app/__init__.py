"""Scoreboard: the live top-10 scoreboard service."""
