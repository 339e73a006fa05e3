"""The methods clients may call, independent of the transport that carries them.

``context`` says what a handler may use (``ApiContext``) and who calls (``Caller``);
``registry`` holds the methods and calls them with role checks and auditing; ``catalog``
lists them all; the other modules are the handlers, one domain each.
"""
