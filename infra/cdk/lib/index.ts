export { Consolidation, EcsCapacity, EcsCapacityProps, EcsCapacityCode, ECS_CAPACITY_DEFAULTS, ScaleInAdjustment, ScaleOutAdjustment, ScalingMode, WorstCaseTask } from './ecs-capacity';
export { EcsCapacityPropError } from './validate';
