"""fusionsdk-plugin-example: a fusion strategy and an arbiter, and the template for new plugins.

Installing the distribution registers, through entry points declared in ``pyproject.toml``:

* ``weighted_confidence`` (``fusionsdk.fusers``): :class:`WeightedConfidence`
* ``agreement_threshold`` (``fusionsdk.arbiters``): :class:`AgreementThreshold`

fusionsdk imports these modules only when a config (or ``fusionsdk plugins list``) uses them.
"""

from fusionsdk_plugin_example.agreement_threshold import AgreementThreshold
from fusionsdk_plugin_example.weighted_confidence import WeightedConfidence

__version__ = "0.1.0"

__all__ = ["AgreementThreshold", "WeightedConfidence", "__version__"]
