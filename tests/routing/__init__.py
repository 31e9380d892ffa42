"""Tests of fusionsdk.routing."""
