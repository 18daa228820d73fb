#!/usr/bin/env python
import os
import sys

from config.env import setting_errors_end_the_process


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from django.core.management import execute_from_command_line

    # A refused setting (config.env) ends any command with its one-line message, not a traceback.
    with setting_errors_end_the_process():
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
