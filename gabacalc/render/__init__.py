"""Renderers: text, HTML, charts and PDFs made from a plan.

They write no file (:mod:`gabacalc.files` does) and decide nothing clinical: every number and
choice they show comes from the plan and the rules it was built from.
"""
