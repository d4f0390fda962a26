"""moco_twin.py — the PyTorch twins of clft's split-BN and basic block (core/model/model.c), shared
by tests/gen_golden_moco.py (golden values) and bench/bench_moco_torch.py (the speed reference).

SplitBN: BatchNorm over `groups` contiguous sub-batches, each normalised with its own statistics
(one device emulating several, as multi-GPU MoCo does); running stats = mean of the group updates.
Basic: torchvision's BasicBlock with SplitBN (conv3x3-bn-relu-conv3x3-bn + shortcut, relu).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SplitBN(nn.BatchNorm2d):
    def __init__(self, planes, groups):
        super().__init__(planes)
        self.groups = groups

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        outs, rms, rvs = [], [], []
        for chunk in x.chunk(self.groups):
            rm, rv = self.running_mean.clone(), self.running_var.clone()
            outs.append(F.batch_norm(chunk, rm, rv, self.weight, self.bias, True, self.momentum, self.eps))
            rms.append(rm)
            rvs.append(rv)
        with torch.no_grad():
            self.running_mean.copy_(torch.stack(rms).mean(0))
            self.running_var.copy_(torch.stack(rvs).mean(0))
        return torch.cat(outs)


class Basic(nn.Module):
    """bn: the split-BN class (planes, groups) — SplitBN here, FusedSplitBN in scripts/sweep_mini_torch.py."""

    def __init__(self, cin, planes, stride, groups, bn=SplitBN):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = bn(planes, groups)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = bn(planes, groups)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                            bn(planes, groups))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))
