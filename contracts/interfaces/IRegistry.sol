// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IRegistry
 * @notice What the other contracts ask of the membership registry: whether an account is an active member,
 * and which member vouches for a practitioner. `Consent` and `Anchors` depend on this interface only, so a
 * consortium can replace the governance contract (another voting rule, a multisig) without redeploying them.
 */
interface IRegistry {
    /// @notice Whether `account` is currently an active member.
    function isActiveMember(address account) external view returns (bool);

    /**
     * @notice The member a practitioner belongs to, its role, and whether it may act now.
     * @return member The member that registered it (zero if never registered).
     * @return role Its role.
     * @return active False if deactivated or if its member is no longer active.
     */
    function practitionerOf(address practitioner) external view returns (address member, bytes32 role, bool active);
}
