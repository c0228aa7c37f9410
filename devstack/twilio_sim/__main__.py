"""`python -m devstack.twilio_sim --port 8001`: the simulator alone."""

from devstack.twilio_sim.model import main

if __name__ == "__main__":
    raise SystemExit(main())
