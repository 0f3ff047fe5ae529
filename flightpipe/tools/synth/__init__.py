"""Synthetic BTS flights and matching Open-Meteo weather for the benchmark (scripts/synth_bts.py).

reference: airports, carriers, units; draws: deterministic hashed draws and helpers;
flights: the schedule and the BTS rows; weather: the Open-Meteo documents; generate: the files.
"""
