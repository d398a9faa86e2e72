"""Time-series forecasting: PatchTST and iTransformer on the shared core,
quantile intervals, rolling-origin backtests against statsforecast peers."""
