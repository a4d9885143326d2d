"""The referral program: journey, codes, attribution, conversion, rewards and fraud rules,
decided from plain inputs; HubSpot hears of it through the outbox."""
