"""What one Lightning training needs: the task module, losses, metrics, callbacks, post-processing."""
