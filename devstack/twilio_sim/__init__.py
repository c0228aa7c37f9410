"""A local stand-in for Twilio's Messages API: the model (accounts, numbers, messages, rules), its server, a CLI."""

from devstack.twilio_sim.model import TwilioSimulator

__all__ = ["TwilioSimulator"]
