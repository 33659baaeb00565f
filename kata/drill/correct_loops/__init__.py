"""Correct training loops that look suspicious: the drill's "nothing is wrong" rounds.

Each file is a runnable script with ``train(seed=0)``, like a kata's solution, and a
``DAY`` it belongs to. ``kata drill`` runs each under the diagnostics before showing it: a
loop that is reported is never shown as correct.
"""
