"""Chain adapters: how deposits reach the ledger and where deposit addresses come from.

Import the submodules directly (`exchange.chain.simulated`): this package imports nothing, so the
pure address formats in `exchange.chain.addresses` load without the services that use them.
"""
