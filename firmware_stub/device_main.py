"""Copy this file to the device as /main.py: every wake from deep sleep runs it.

The settings are read from /dampwatch.json (see dampwatch.example.json).
"""

from firmware_stub.app import main

main()
